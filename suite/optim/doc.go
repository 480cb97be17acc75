// Package optim holds the base optimizers (SGD with momentum and Nesterov,
// AdamW), learning-rate schedules, gradient clipping, and the training
// methods that decide how a step's gradient is made: plain SGD, SAM and the
// rest of the sharpness-aware family, and RST, which chooses between a plain
// and a sharp step by a Bernoulli draw at every iteration.
//
// Everything works on a network's flat buffers (nn.Net.W and nn.Net.G), so
// a method's step is a few whole-buffer operations whatever the model.
//
// Methods are registered, never listed by hand: a sharp step declares its
// name, parameters (defaults, ranges, help), extra passes and constructor
// once with RegisterSharp (sharps.go holds the built-in ones), and the
// help, Resolve, RST/G-RST's --sharp, the planner's cost and the generated
// docs/METHODS.md all read that table. `rst list --methods` prints it;
// docs/EXTENDING.md walks through adding one.
//
// Unknown --param names and values outside their range are errors.
package optim
