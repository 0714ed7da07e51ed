from harness._cli.main import entry

entry()
