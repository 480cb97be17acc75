// Package gpu is the CUDA backend of package nn, registered as the devices
// "cuda" (FP32 GEMMs and convolutions) and "cuda-tf32" (TF32 tensor cores
// for GEMMs and convolutions, recorded in Describe).
//
// It loads the CUDA driver API (libcuda.so.1), cuBLAS (libcublas.so.13 or
// .12), cuDNN 9 (libcudnn.so.9) and NVRTC (libnvrtc.so.13 or .12) at run
// time through purego, without cgo, so `go build` needs no CUDA toolkit and
// one binary serves machines with and without a GPU. Opening the device on
// a machine without one fails with an error naming the missing library or
// device and what to install. Only entry points present in both CUDA 12
// and 13 are used (the primary context, not cuCtxCreate, whose signature
// changed in 13).
//
// GEMMs go to cublasSgemm, convolutions to cuDNN's legacy convolution API
// (still in cuDNN 9, through the libcudnn.so shim), and everything else to
// the CUDA C kernels of kernels.cu, compiled once by NVRTC when the device
// opens, for its compute capability. Batch-norm and pooling are kernels of
// ours rather than cuDNN's: the Backend's batch-norm writes the biased batch
// variance, fuses a ReLU and takes mean and variance back in its backward,
// and its max-pool backward routes ties to the first maximum; cuDNN's
// calls differ on each point.
//
// Memory comes from a caching allocator (alloc.go): a Free returns a block
// to a free list of its size class, and a later New of the same class
// reuses it. All work runs on one stream, so reuse needs no event: a block
// freed after the kernels that used it were issued is only reused by
// kernels issued later.
//
// Weights, gradients and optimizer state stay on the device. The host
// waits for the device (a sync) only in Download, Dot (8 bytes),
// SoftmaxCrossEntropy (the per-sample losses, to return the mean), Argmax
// (the indices) and Sync.
package gpu
