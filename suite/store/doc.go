// Package store keeps one record per run, keyed by the hash of the run's
// fully resolved config, under RESULTS/PROFILE/runs/ID.json. A record is
// written atomically and carries a checksum of its content, so a crash
// never leaves half a record and a record altered by hand is refused
// rather than averaged into a table. A run in progress is locked (flock,
// released by the kernel when its process dies) and checkpoints under
// RESULTS/PROFILE/ckpt/, so concurrent workers run each run exactly once
// and an interrupted run resumes where it stopped. A finished run is never
// re-run unless forced.
package store
