// grafana-validate checks Grafana dashboard JSON files strictly against the Grafana 11.6 schema
// of grafana-foundation-sdk (unknown fields, wrong types, missing required fields, constraint
// violations; panel options and queries through the registered plugins).
//
//	grafana-validate FILE...    exit 0 when every file passes, 1 otherwise (errors on stderr)
//
// Built once per machine by `make grafana-validator` into ~/.cache/kafka-watchdog/bin.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// failed treats an empty cog.BuildErrors as success: the SDK returns a typed nil slice as an
// error interface, which is not == nil.
func failed(err error) bool {
	var built cog.BuildErrors
	if errors.As(err, &built) {
		return len(built) > 0
	}
	return err != nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: grafana-validate DASHBOARD.json...")
		os.Exit(2)
	}
	plugins.RegisterDefaultPlugins()
	bad := 0
	for _, path := range os.Args[1:] {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			bad++
			continue
		}
		var board dashboard.Dashboard
		if err := board.UnmarshalJSONStrict(raw); failed(err) {
			fmt.Fprintf(os.Stderr, "%s: strict unmarshal:\n%v\n", path, err)
			bad++
			continue
		}
		if err := board.Validate(); failed(err) {
			fmt.Fprintf(os.Stderr, "%s: validate:\n%v\n", path, err)
			bad++
			continue
		}
		fmt.Printf("%s: ok\n", path)
	}
	if bad > 0 {
		os.Exit(1)
	}
}
