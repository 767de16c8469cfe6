# The two commands a newcomer needs. Each one does its own setup first.
.PHONY: setup test demo

setup:
	./scripts/setup.sh

test: setup
	swift test

# The demo config in the foreground; Ctrl-C stops it gracefully.
demo: setup
	swift run runnerd --config examples/demo.yaml
