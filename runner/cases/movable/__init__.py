"""The new home of ``my_layers`` after it moved into a package (see ``module_moved``)."""
