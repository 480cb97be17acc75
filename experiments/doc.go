// Package experiments declares every table and figure of the paper as a
// target: the run matrix it needs (models × data × methods × schedules ×
// seeds), once, mapped onto a profile, and how its results render.
//
// A profile scales the same matrix: "paper" is the paper's protocol
// (CIFAR, ResNet-18, WRN-28-10, 200 epochs, batch 256, five seeds), meant
// for a GPU or a cluster; "cpu" runs the same matrix on real data any
// machine has (Fashion-MNIST) with small stand-in models, on two cores;
// "smoke" runs the same code paths in seconds, for tests. A cell that a
// profile cannot run (ViT, ImageNet, a dataset with no stand-in) is listed
// with what it needs, never left silently empty.
//
// Runs are identified by the hash of their resolved config, so a run
// shared by two targets (the SGD and SAM baselines) is trained once.
package experiments
