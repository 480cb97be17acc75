// Package store keeps one record per run, keyed by the hash of the run's
// fully resolved config, under RESULTS/PROFILE/runs/ID.json. A record is
// written atomically and carries a checksum of its content, so a crash
// never leaves half a record and a record altered by hand is refused
// rather than averaged into a table; a record is also refused unless it is
// filed under its own id and profile, so one copied or renamed over
// another run's file never stands in for that run. Scan reads a whole
// profile for rst verify, and GetSum gives the checksum that manifests
// record. A run in progress is locked (flock, released by the kernel when
// its process dies) and checkpoints under RESULTS/PROFILE/ckpt/, so
// concurrent workers run each run exactly once, InProgress tells others
// that it is being trained, and an interrupted run resumes where it
// stopped. A finished run is never re-run unless forced.
package store
