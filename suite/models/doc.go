// Package models defines the suite's networks once, in terms of package nn
// layers, so that every backend trains the same model. Each model is built
// by name for an input shape (H, W, C) and a number of classes; the
// registry lets a user add their own without touching the trainer.
package models
