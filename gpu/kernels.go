package gpu

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

//go:embed kernels.cu
var kernelSource string

// ptype is a kernel parameter's C type, as the launcher must pack it.
type ptype byte

const (
	pPtr    ptype = iota // any T*: a dptr
	pInt                 // int: a Go int, packed as int32
	pFloat               // float: float32
	pDouble              // double: float64
	pU64                 // unsigned long long: uint64
)

func (p ptype) String() string {
	return [...]string{"pointer", "int", "float", "double", "unsigned long long"}[p]
}

// dptr is a device address, so that the launcher tells pointers from
// integers.
type dptr uintptr

// A kernel's declaration: extern "C" __global__ void, FIXED_BLOCK(x, y)
// when it is written for one block shape, its name and parameters.
var kernelDecl = regexp.MustCompile(`extern "C" __global__ void (?:FIXED_BLOCK\((\d+), *(\d+)\) +)?(\w+)\(([^)]*)\)`)

// parseBlocks reads the block shape of each kernel that declares one.
func parseBlocks(src string) map[string][2]int {
	out := map[string][2]int{}
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		if m[1] != "" {
			x, _ := strconv.Atoi(m[1])
			y, _ := strconv.Atoi(m[2])
			out[m[3]] = [2]int{x, y}
		}
	}
	return out
}

// parseKernels reads each kernel's name and parameter types from the
// source, so that launches are checked against the declarations.
func parseKernels(src string) (map[string][]ptype, error) {
	out := map[string][]ptype{}
	for _, m := range kernelDecl.FindAllStringSubmatch(src, -1) {
		name, list := m[3], strings.TrimSpace(m[4])
		var ps []ptype
		if list != "" {
			for _, p := range strings.Split(list, ",") {
				p = strings.Join(strings.Fields(p), " ")
				if strings.Contains(p, "*") {
					ps = append(ps, pPtr)
					continue
				}
				i := strings.LastIndex(p, " ")
				if i < 0 {
					return nil, fmt.Errorf("kernel %s: parameter %q has no name", name, p)
				}
				switch typ := strings.TrimPrefix(p[:i], "const "); typ {
				case "int":
					ps = append(ps, pInt)
				case "float":
					ps = append(ps, pFloat)
				case "double":
					ps = append(ps, pDouble)
				case "unsigned long long":
					ps = append(ps, pU64)
				default:
					return nil, fmt.Errorf("kernel %s: parameter type %q is not one the launcher packs", name, typ)
				}
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("kernel %s declared twice", name)
		}
		out[name] = ps
	}
	return out, nil
}
