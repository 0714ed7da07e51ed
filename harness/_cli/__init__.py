"""The command line: parses arguments and wires them to the pipeline and workflows."""
