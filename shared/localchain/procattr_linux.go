package localchain

import (
	"os/exec"
	"syscall"
)

// dieWithParent has Linux kill Anvil when the process that started it dies
// (a test binary killed at its timeout leaves no node behind).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
