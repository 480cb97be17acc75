package gpu

import (
	"strings"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/rst-bench/rst/suite/nn"
)

// On a machine without the NVIDIA driver, opening the device fails with
// an error that names libcuda.so.1 and says what to do.
func TestOpenWithoutCUDA(t *testing.T) {
	b, err := Open(Options{})
	if err == nil {
		t.Skipf("this machine has a usable GPU (%s); the no-GPU error is not reachable", b.Describe())
	}
	if _, lerr := purego.Dlopen("libcuda.so.1", purego.RTLD_NOW); lerr == nil {
		t.Skipf("libcuda.so.1 loads here, so opening fails later: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"libcuda.so.1", "CUDA driver", "install the NVIDIA driver", "LD_LIBRARY_PATH", "--device cpu"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	// Through the registry, as --device cuda reaches it: an error and no
	// backend (not a typed nil inside the interface).
	for _, name := range []string{"cuda", "cuda-tf32"} {
		nb, err := nn.Open(name)
		if err == nil || nb != nil {
			t.Errorf("nn.Open(%q) = %v, %v; want nil and an error", name, nb, err)
		} else if !strings.Contains(err.Error(), "libcuda.so.1") {
			t.Errorf("nn.Open(%q): %v", name, err)
		}
	}
}

// A library that is missing is named with every file name tried and the fix.
func TestMissingLibraryError(t *testing.T) {
	l := library{[]string{"libno-such-rst.so.13", "libno-such-rst.so.12"}, "a test library", "install it"}
	_, _, err := l.open()
	if err == nil {
		t.Fatal("opening a library that does not exist succeeded")
	}
	for _, want := range []string{"libno-such-rst.so.13 or libno-such-rst.so.12", "a test library", "install it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// bind resolves symbols into unexported func fields, tries alternatives in
// order, and names a missing symbol.
func TestBind(t *testing.T) {
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW)
	if err != nil {
		t.Skipf("no libc.so.6 to bind against: %v", err)
	}
	var ok struct {
		strlen func(s *byte) uint64
		length func(s *byte) uint64 `sym:"rst_no_such_symbol,strlen"`
	}
	if err := bind(&ok, h, "libc.so.6"); err != nil {
		t.Fatal(err)
	}
	s := cstr("hello")
	if n, m := ok.strlen(&s[0]), ok.length(&s[0]); n != 5 || m != 5 {
		t.Errorf("strlen through bind = %d, %d; want 5", n, m)
	}
	if got := gostring(&s[0]); got != "hello" {
		t.Errorf("gostring = %q", got)
	}
	var bad struct {
		f func() int32 `sym:"rst_no_such_symbol_a,rst_no_such_symbol_b"`
	}
	err = bind(&bad, h, "libc.so.6")
	if err == nil || !strings.Contains(err.Error(), "rst_no_such_symbol_a or rst_no_such_symbol_b") || !strings.Contains(err.Error(), "libc.so.6") {
		t.Errorf("missing symbol: %v", err)
	}
}

// cuBLAS and NVRTC are opened at the CUDA major version that suits the
// driver and the GPU: 12 only under a CUDA 12 driver or on a GPU CUDA 13
// dropped (below sm_75), 13 then 12 otherwise; Describe says why.
func TestLibraryChoice(t *testing.T) {
	for _, c := range []struct {
		driver, major, minor int32
		want                 []string
		why                  string
	}{
		{12040, 9, 0, []string{"libcublas.so.12"}, "driver supports CUDA 12.4"},
		{13000, 7, 0, []string{"libcublas.so.12"}, "does not support sm_70"},
		{13000, 6, 1, []string{"libcublas.so.12"}, "does not support sm_61"},
		{13000, 7, 5, []string{"libcublas.so.13", "libcublas.so.12"}, "CUDA 13 libraries first"},
		{13010, 12, 0, []string{"libcublas.so.13", "libcublas.so.12"}, "CUDA 13.1 and sm_120"},
		{0, 0, 0, []string{"libcublas.so.13", "libcublas.so.12"}, ""}, // the driver cannot say
	} {
		s := newStub()
		s.cuDriverGetVersion = func(v *int32) int32 { *v = c.driver; return 0 }
		s.cuDeviceGetAttribute = func(v *int32, attr, dev int32) int32 {
			*v = map[int32]int32{attrCCMajor: c.major, attrCCMinor: c.minor}[attr]
			return 0
		}
		cublas, nvrtc, why := chooseLibraries(&s.driverAPI)
		wantNVRTC := strings.ReplaceAll(strings.Join(c.want, " "), "cublas", "nvrtc")
		if strings.Join(cublas.names, " ") != strings.Join(c.want, " ") || strings.Join(nvrtc.names, " ") != wantNVRTC || !strings.Contains(why, c.why) {
			t.Errorf("driver %d, sm_%d%d: %v, %v (%q); want %v and %q", c.driver, c.major, c.minor, cublas.names, nvrtc.names, why, c.want, c.why)
		}
	}
}
