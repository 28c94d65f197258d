"""measure.py COMMAND...: runs COMMAND with stdout discarded and prints one JSON line:
its wall time in seconds, its peak resident set in bytes (from wait4's rusage, which
counts the command itself) and its exit status."""
import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({'seconds': seconds, 'peakRss': peak, 'status': done.returncode, 'stderr': done.stderr.decode()[-2000:]}))
