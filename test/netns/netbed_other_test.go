//go:build !linux

package netns

import (
	"errors"
	"net"
	"os"
)

var errNoNetns = errors.New("network namespaces need Linux")

func inNetns(string, func() error) error { return errNoNetns }

func udpIn(string, string) (*net.UDPConn, error) { return nil, errNoNetns }

func openTun(string, string) (*os.File, error) { return nil, errNoNetns }

func alive(int) bool { return false }
