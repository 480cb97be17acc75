// Package nntest is the conformance suite of nn.Backend: one set of checks
// that any backend (the CPU one today, a CUDA one later) must pass, written
// only against the Backend interface. Tensors are made with New and View,
// filled with Upload and read with Download; Tensor.Data is never touched,
// so a device backend that leaves Data nil runs the same suite.
//
// Kernels checks every kernel, forward and backward, against float64
// reference implementations written here as plain loops (not the CPU
// backend's code), on several shapes including awkward ones (stride 2,
// padding, 1×1 and non-square windows, odd channel counts, batch 1), once
// on fresh tensors and once on views at an offset inside buffers padded
// with NaN (a kernel that reads outside its view produces NaN; one that
// writes outside it is caught by checking the padding afterwards). Outputs
// are pre-filled with garbage, so a kernel that accumulates where it should
// overwrite fails. Backward kernels are also checked against central
// finite differences of the backend's own forward kernels.
//
// Model trains resnet18, vgg16-bn and vit-mini of package models for
// three SGD steps on tiny batches on a backend and on a reference backend
// and compares the losses and every parameter gradient; when both are the
// same kind of backend (so that comparison proves nothing) it checks the
// model gradient against central finite differences of the loss instead.
//
// Each check states its tolerance and why next to the code. Failures name
// the kernel, the shape and the first wrong elements by coordinate.
package nntest
