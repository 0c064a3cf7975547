"""The report: run.json -> results.json, results.csv and a self-contained index.html."""
