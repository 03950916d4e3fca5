"""The ``acie`` command line."""
