# The two commands a newcomer needs. Each one does its own setup first.
.PHONY: setup test

setup:
	./scripts/setup.sh

test: setup
	swift test
