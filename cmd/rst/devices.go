package main

// The CUDA backend registers the cuda and cuda-tf32 devices. It loads the
// driver and libraries only when a run asks for them, so every build has
// --device cuda and a machine without a GPU gets a message saying what is
// missing.
import _ "github.com/rst-bench/rst/gpu"
