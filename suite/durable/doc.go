// Package durable writes files that a crash, a full disk or a second
// process can never leave half-written or silently corrupted: atomic
// replacement through a temporary file, a checksummed envelope for binary
// state such as checkpoints, and advisory locks that a dead process
// releases. The store of run records and the trainer's checkpoints both
// go through it, so a result on disk is always whole or absent. Its errors
// say what to do about the failures a user can fix (a full disk, a
// read-only file system: Hint); CheckDir checks an output folder before
// work starts without creating it, and Held tells whether another process
// holds a lock without taking it.
package durable
