//go:build !linux

package test

import (
	"errors"
	"net"
)

var errNoNetns = errors.New("network namespaces need Linux")

func inNetns(string, func() error) error { return errNoNetns }

func udpIn(string, string) (*net.UDPConn, error) { return nil, errNoNetns }
