package gpu

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Tests of the CPU double of the CUDA libraries (gpu/double): they run
// only with RST_CUDA_DOUBLE naming its built folder, e.g.
//
//	make gpu-double && RST_CUDA_DOUBLE=$PWD/gpu/double/lib go test ./gpu
//
// which also runs the conformance tests (conformance_test.go) against it.

func doubleOrSkip(t *testing.T) (*Backend, string) {
	t.Helper()
	dir := os.Getenv(doubleEnv)
	if dir == "" {
		t.Skipf("%s is unset: these tests need the CPU double of CUDA (make gpu-double; %s=$PWD/gpu/double/lib)", doubleEnv, doubleEnv)
	}
	if _, err := os.Stat(filepath.Join(dir, "libcuda.so.1")); err != nil {
		t.Fatalf("%s=%s but the CPU double is not built there (make gpu-double): %v", doubleEnv, dir, err)
	}
	b, err := Open(Options{})
	if err != nil {
		t.Fatalf("the CPU double does not open: %v", err)
	}
	return b, dir
}

// lastDoubleError is the driver double's last message (rstd_last_error).
func lastDoubleError(t *testing.T, dir string) string {
	h, err := purego.Dlopen(filepath.Join(dir, "libcuda.so.1"), purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	var f func() *byte
	purego.RegisterLibFunc(&f, h, "rstd_last_error")
	return gostring(f())
}

func TestDoubleDescribe(t *testing.T) {
	b, dir := doubleOrSkip(t)
	d := b.Describe()
	if !strings.Contains(d, "CPU double") || !strings.Contains(d, dir) {
		t.Errorf("Describe() = %q: does not say it runs on the CPU double in %s", d, dir)
	}
}

// An async copy to the host completes only when the stream is
// synchronised: a read before cuStreamSynchronize sees the old contents.
func TestDoubleStaleWithoutSync(t *testing.T) {
	b, _ := doubleOrSkip(t)
	x := b.New(1000)
	b.Fill(x, 3)
	host := make([]float32, 1000)
	for i := range host {
		host[i] = -1
	}
	if !b.enter() {
		b.leave()
		t.Fatal(b.Err())
	}
	r := b.a.cuMemcpyDtoHAsync(unsafe.Pointer(&host[0]), uintptr(b.ptr(x)), 4000, b.stream)
	stale := host[999]
	s := b.a.cuStreamSynchronize(b.stream)
	b.leave()
	if r != 0 || s != 0 {
		t.Fatalf("cuMemcpyDtoHAsync: %s, cuStreamSynchronize: %s", b.a.cuErr(r), b.a.cuErr(s))
	}
	if stale != -1 {
		t.Errorf("before the sync the host buffer holds %v: the double should leave it stale (-1)", stale)
	}
	if host[0] != 3 || host[999] != 3 {
		t.Errorf("after the sync the host buffer holds %v, %v; want 3", host[0], host[999])
	}
	b.Free(x)
}

// A copy past the end of an allocation, or to a freed one, fails at once
// with an error that names the call.
func TestDoubleOutOfRange(t *testing.T) {
	b, dir := doubleOrSkip(t)
	x := b.New(128) // 512 bytes: a whole size class, so the allocation ends where x does
	src := make([]float32, 200)
	if !b.enter() {
		b.leave()
		t.Fatal(b.Err())
	}
	defer b.leave()
	p := uintptr(b.ptr(x)) + 4*124
	r := b.a.cuMemcpyHtoDAsync(p, unsafe.Pointer(&src[0]), 4*8, b.stream)
	if r == 0 {
		t.Fatal("a copy of 8 floats to the last 4 of a tensor succeeded")
	}
	if msg := lastDoubleError(t, dir); !strings.Contains(msg, "cuMemcpyHtoDAsync_v2") || !strings.Contains(msg, "past the end") {
		t.Errorf("error %s, message %q: does not name the call and the overrun", b.a.cuErr(r), msg)
	}
	r = b.a.cuMemcpyHtoDAsync(0x1000, unsafe.Pointer(&src[0]), 4, b.stream)
	if r != 700 {
		t.Errorf("a copy to 0x1000: %s, want CUDA_ERROR_ILLEGAL_ADDRESS", b.a.cuErr(r))
	}
	if r := b.a.cuStreamSynchronize(b.stream); r != 0 {
		t.Errorf("the refused copies poisoned the stream: %s", b.a.cuErr(r))
	}
}

// The double's own C test: module load, kernels with barriers and launch
// bounds, NVRTC's option checks, range checks, a double free and a kernel
// overrun (make -C gpu/double test builds and runs it).
func TestDoubleDriverC(t *testing.T) {
	_, dir := doubleOrSkip(t)
	bin := filepath.Join(dir, "driver_test")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s is not built (make -C gpu/double test builds it)", bin)
	}
	out, err := exec.Command(bin, dir, "kernels.cu").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}
