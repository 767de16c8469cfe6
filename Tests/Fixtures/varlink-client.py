#!/usr/bin/env python3
# An independent varlink client for runnerd's control socket, built on Python's `varlink` package
# (PyPI), which parses the interface description runnerd serves and builds its calls from it.
# Usage: varlink-client.py SOCKET GROUP-TO-RESTART
# Prints one JSON line per call: the service info, the status, the restart's reply, an error.
import json
import sys

import varlink

socket_path, group = sys.argv[1], sys.argv[2]
with varlink.Client(address="unix:" + socket_path) as client:
    print(json.dumps({"interfaces": client.get_interfaces()}))
    with client.open("io.runnerd.Manager", namespaced=False) as manager:
        print(json.dumps({"status": manager.Status()}))
        print(json.dumps({"restart": manager.Restart([group])}))
        try:
            manager.Stop(["no-such-group"])
        except varlink.VarlinkError as error:
            print(json.dumps({"error": error.error(), "parameters": error.parameters()}))
