package gpu

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// A library the backend needs: the file names tried in order, what it is,
// and how to get it when it is missing.
type library struct {
	names []string
	what  string
	fix   string
}

var (
	libCUDA = library{[]string{"libcuda.so.1"}, "the CUDA driver API",
		"this machine has no NVIDIA driver (or it is not on the loader path): install the NVIDIA driver, or add the directory holding libcuda.so.1 to LD_LIBRARY_PATH; use --device cpu on a machine without a GPU"}
	libCUBLAS = library{[]string{"libcublas.so.13", "libcublas.so.12"}, "cuBLAS",
		"install cuBLAS for CUDA 13 or 12 (e.g. apt-get install libcublas-13-0, or pip install nvidia-cublas-cu12) and add its lib directory to LD_LIBRARY_PATH"}
	libCUDNN = library{[]string{"libcudnn.so.9"}, "cuDNN 9",
		"install cuDNN 9 (e.g. apt-get install libcudnn9-cuda-13, or pip install nvidia-cudnn-cu12) and add its lib directory to LD_LIBRARY_PATH"}
	libNVRTC = library{[]string{"libnvrtc.so.13", "libnvrtc.so.12"}, "NVRTC (the CUDA runtime compiler)",
		"install NVRTC for CUDA 13 or 12 (e.g. apt-get install cuda-nvrtc-13-0, or pip install nvidia-cuda-nvrtc-cu12) and add its lib directory to LD_LIBRARY_PATH"}
)

// doubleEnv names the folder of the CPU double of the CUDA libraries
// (gpu/double, built by make gpu-double): a test instrument for machines
// without a GPU, never used unless set. When it is set, every library is
// loaded from that folder by absolute path and nowhere else.
const doubleEnv = "RST_CUDA_DOUBLE"

// open loads the first of l's names that the dynamic loader finds, or,
// with RST_CUDA_DOUBLE set, that its folder holds; the name returned says
// which file was loaded.
func (l library) open() (handle uintptr, name string, err error) {
	var msgs []string
	dir := os.Getenv(doubleEnv)
	for _, n := range l.names {
		path := n
		if dir != "" {
			path = filepath.Join(dir, n)
		}
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			if dir != "" {
				return h, path + " (the CPU double, " + doubleEnv + ")", nil
			}
			return h, n, nil
		}
		msgs = append(msgs, err.Error())
	}
	fix := l.fix
	if dir != "" {
		fix = doubleEnv + "=" + dir + " names the CPU double's folder: build it there with make gpu-double, or unset " + doubleEnv + " to use the real library (" + fix + ")"
	}
	return 0, "", fmt.Errorf("cuda device: cannot load %s (%s): %s; %s",
		strings.Join(l.names, " or "), l.what, strings.Join(msgs, "; "), fix)
}

// bind points every func field of api (a pointer to a struct) at the C
// symbol named by the field's `sym` tag (alternatives separated by commas,
// tried in order), or by the field name. A missing
// symbol is an error naming it and the library: a version older than the
// backend needs.
func bind(api any, handle uintptr, lib string) error {
	v := reflect.ValueOf(api).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() != reflect.Func {
			continue
		}
		names := f.Tag.Get("sym")
		if names == "" {
			names = f.Name
		}
		var addr uintptr
		for _, name := range strings.Split(names, ",") {
			if a, err := purego.Dlsym(handle, name); err == nil && a != 0 {
				addr = a
				break
			}
		}
		if addr == 0 {
			return fmt.Errorf("cuda device: %s has no symbol %s (an older version than this backend needs?)", lib, strings.ReplaceAll(names, ",", " or "))
		}
		// The fields are unexported: reach them through their address.
		fp := reflect.NewAt(f.Type, unsafe.Pointer(v.Field(i).UnsafeAddr())).Interface()
		purego.RegisterFunc(fp, addr)
	}
	return nil
}

// gostring copies a NUL-terminated C string.
func gostring(p *byte) string {
	if p == nil {
		return ""
	}
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cstr returns s as a NUL-terminated byte slice whose first element's
// address can be handed to C for the length of a call.
func cstr(s string) []byte { return append([]byte(s), 0) }
