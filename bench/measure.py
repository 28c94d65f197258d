"""measure.py COMMAND...: runs COMMAND with stdout discarded and prints one JSON line:
its wall time in seconds, its CPU time (user + system, all its threads), its peak
resident set in bytes (both from wait4's rusage, which counts the command itself) and
its exit status."""
import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss * 1024
print(json.dumps({'seconds': seconds, 'cpuSeconds': usage.ru_utime + usage.ru_stime, 'peakRss': peak, 'status': done.returncode, 'stderr': done.stderr.decode()[-2000:]}))
