package gui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// APIFile is the name, inside a node's home, of the file holding the running
// node's API URL and token.
const APIFile = "api"

// Endpoint is the content of the api file.
type Endpoint struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// ErrNoNode means no node is running on the home.
var ErrNoNode = errors.New("no node is running")

// WriteEndpoint writes the api file, readable only by the user.
func WriteEndpoint(home string, e Endpoint) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp := filepath.Join(home, APIFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing api file: %w", err)
	}
	return os.Rename(tmp, filepath.Join(home, APIFile))
}

// Client talks to a running node's API.
type Client struct {
	ep   Endpoint
	http *http.Client
}

// Dial reads home's api file and checks that the node answers.
func Dial(ctx context.Context, home string) (*Client, error) {
	b, err := os.ReadFile(filepath.Join(home, APIFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on %s (start one with `renderswarm node`)", ErrNoNode, home)
	}
	if err != nil {
		return nil, fmt.Errorf("reading api file: %w", err)
	}
	var ep Endpoint
	if err := json.Unmarshal(b, &ep); err != nil || ep.URL == "" {
		return nil, fmt.Errorf("api file in %s is damaged", home)
	}
	c := &Client{ep: ep, http: &http.Client{}}
	if _, err := c.ID(ctx); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, fmt.Errorf("%w on %s (its api file is stale: %v)", ErrNoNode, home, err)
	}
	return c, nil
}

// URL is the node's API base URL.
func (c *Client) URL() string { return c.ep.URL }

// APIError is an error the node answered with.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.ep.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.ep.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb errorBody
		if json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&eb) != nil || eb.Error == "" {
			eb.Error = resp.Status
		}
		return nil, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	return resp, nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.do(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading answer to %s: %w", path, err)
	}
	return nil
}

// ID asks for the node's identity.
func (c *Client) ID(ctx context.Context) (ID, error) {
	var id ID
	return id, c.call(ctx, "GET", "/api/id", nil, &id)
}

// Peers lists connected peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var p []Peer
	return p, c.call(ctx, "GET", "/api/peers", nil, &p)
}

// AddAssets makes the (absolute) paths one asset.
func (c *Client) AddAssets(ctx context.Context, paths []string) (Asset, error) {
	var a Asset
	return a, c.call(ctx, "POST", "/api/assets", AddAssetsRequest{Paths: paths}, &a)
}

// Assets lists the node's assets.
func (c *Client) Assets(ctx context.Context) ([]Asset, error) {
	var a []Asset
	return a, c.call(ctx, "GET", "/api/assets", nil, &a)
}

// Pin pins or unpins an asset.
func (c *Client) Pin(ctx context.Context, cid string, pinned bool) error {
	return c.call(ctx, "POST", "/api/assets/pin", PinRequest{CID: cid, Pinned: pinned}, nil)
}

// GetAsset fetches an asset, reporting progress, and returns it once it is
// complete and verified (and written under req.Out, if set).
func (c *Client) GetAsset(ctx context.Context, req GetAssetRequest, progress func(Progress)) (Asset, error) {
	resp, err := c.do(ctx, "POST", "/api/assets/get", req)
	if err != nil {
		return Asset{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return Asset{}, fmt.Errorf("reading progress: %w", err)
		}
		switch {
		case ev.Error != "":
			return Asset{}, &APIError{Status: http.StatusOK, Message: ev.Error}
		case ev.Asset != nil:
			return *ev.Asset, nil
		case ev.Progress != nil && progress != nil:
			progress(*ev.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return Asset{}, fmt.Errorf("reading progress: %w", err)
	}
	return Asset{}, errors.New("the node closed the connection before the fetch finished")
}
