# The two commands a newcomer needs. Each one does its own setup first.
.PHONY: setup test e2e demo docs

setup:
	./scripts/setup.sh

# One test at a time: many tests measure real timing (timeouts, back-off, watchdog intervals) with
# real daemons and children, and on a 2-core machine running them all at once skews those figures.
# The whole suite still takes about a minute and a half.
test: setup
	swift test --no-parallel

# The demo config in the foreground; Ctrl-C stops it gracefully.
demo: setup
	swift run runnerd --config examples/demo.yaml

# The end-to-end suite under a real systemd 252 in a throw-away container (needs root; prints
# SKIPPED and succeeds where systemd-nspawn cannot run). It builds and installs the .deb.
e2e: setup
	Tests/e2e/run.sh

# The DocC catalogs of the two libraries; a broken link or an unknown symbol fails the build.
docs: setup
	swift package generate-documentation --target Runner --warnings-as-errors
	swift package generate-documentation --target Systemd --warnings-as-errors
