// Package reliability holds the suite's end-to-end fault tests: the rst
// binary killed at random moments and right after its writes, several
// workers on one store at once (which must end with the same, complete
// tables), rst run --jobs reporting what its children did, diverged runs,
// and bad inputs (corrupt records and checkpoints, a record copied over
// another run's, unwritable folders, wrong flags). Each test
// checks that no finished run is lost, that nothing partial is read as a
// result, and that a refusal names the input and the fix. The package has
// no code of its own; RELIABILITY.md at the repository root reports the
// figures of its long run (go test ./reliability -args -long).
package reliability
