package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
)

// crdtCmd is the data type commands: get, incr, add, remove, update.
func crdtCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "crdt",
		Short: "Convergent data types: counters, sets and maps the server merges",
		Long: `crdt reads and updates a typed key (/crdt/{key}): a counter, a set, or a map of
counters, sets, flags, registers and maps. The server merges concurrent updates,
so there are never siblings. Every update prints the value after it.
Exit codes: 0 ok, 3 not found, 5 quorum unavailable, 6 rejected (409 type_mismatch,
412 precondition_failed, 400), 1 other.`,
	}
	var q quorumFlags
	var asJSON bool
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a data type's value (with --json: its type and context too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := g.client().typedGet(args[0], q)
			if err != nil {
				return err
			}
			return printTyped(cmd.OutOrStdout(), v, asJSON)
		},
	}
	q.readFlags(get)
	get.Flags().BoolVar(&asJSON, "json", false, "print the whole answer: type, value and context")

	update := func(use, short string, args cobra.PositionalArgs, op func(c *client, args []string) (api.Op, error)) *cobra.Command {
		var wq quorumFlags
		cmd := &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				c := g.client()
				o, err := op(c, args)
				if err != nil {
					return err
				}
				if o.Context == "" && needsContext(o) { // a remove needs what a read saw
					v, err := c.typedGet(args[0], wq)
					if err != nil {
						return err
					}
					o.Context = v.Context
				}
				v, err := c.typedUpdate(args[0], o, wq)
				if err != nil {
					return err
				}
				return printTyped(cmd.OutOrStdout(), v, false)
			},
		}
		wq.writeFlags(cmd)
		return cmd
	}
	incr := update("incr KEY N", "Add N to the counter KEY (for a negative N: cartwheel crdt incr KEY -- -2)", cobra.ExactArgs(2),
		func(_ *client, args []string) (api.Op, error) {
			n, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return api.Op{}, fail(exitUsage, "N=%q: not an integer", args[1])
			}
			return api.Increment(n), nil
		})
	add := update("add KEY ELEM...", "Add elements to the set KEY", cobra.MinimumNArgs(2),
		func(_ *client, args []string) (api.Op, error) { return api.Op{Type: "set", Add: args[1:]}, nil })
	remove := update("remove KEY ELEM...", "Remove elements from the set KEY (reads it first, for the context)", cobra.MinimumNArgs(2),
		func(_ *client, args []string) (api.Op, error) { return api.Op{Type: "set", Remove: args[1:]}, nil })
	var opJSON string
	upd := update("update KEY --json OP", "Apply one JSON operation to KEY (a remove without a context reads first)", cobra.ExactArgs(1),
		func(_ *client, _ []string) (api.Op, error) {
			var o api.Op
			dec := json.NewDecoder(strings.NewReader(opJSON))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil {
				return api.Op{}, fail(exitUsage, "--json: not an operation: %v", err)
			}
			return o, nil
		})
	upd.Flags().StringVar(&opJSON, "json", "", `the operation, e.g. {"type":"map","update":{"apple":{"type":"counter","increment":1}}}`)
	_ = upd.MarkFlagRequired("json")
	cmd.AddCommand(get, incr, add, remove, upd)
	return cmd
}

// needsContext reports whether an operation removes something.
func needsContext(o api.Op) bool {
	if len(o.Remove) > 0 {
		return true
	}
	for _, sub := range o.Update {
		if needsContext(sub) {
			return true
		}
	}
	return false
}

// typedGet reads the data type at key.
func (c *client) typedGet(key string, q quorumFlags) (api.TypedValue, error) {
	if err := c.ready(); err != nil {
		return api.TypedValue{}, err
	}
	v, err := c.api.TypedGet(context.Background(), key, q.readOptions())
	return v, cliError(err)
}

// typedUpdate applies o to key and answers the value after it.
func (c *client) typedUpdate(key string, o api.Op, q quorumFlags) (api.TypedValue, error) {
	if err := c.ready(); err != nil {
		return api.TypedValue{}, err
	}
	opts := q.options()
	opts.ReturnBody = true
	v, err := c.api.TypedUpdate(context.Background(), key, o, opts)
	return v, cliError(err)
}

func printTyped(out io.Writer, v api.TypedValue, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintf(out, "%s\n", v.Value)
	return err
}
