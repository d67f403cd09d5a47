//go:build tools

// Package tools pins the Pulumi CLI that scripts/setup.sh builds into .tools/bin. Build it from this
// module (not with `go install ...@version`, which refuses pkg/v3 because its go.mod has replace
// directives): go build -o ../../../.tools/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
