// Package train is the training loop: it draws batches in a seeded order,
// asks the run's method for an update direction, clips it, applies the base
// optimizer, counts the forward-backward pairs actually run, evaluates on
// the test split after every epoch, reports progress, and returns a Record
// that holds everything needed to trust and reproduce the number.
package train
