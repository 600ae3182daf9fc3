// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/main.go), built here
// because a module with replace directives cannot be installed with `go install`.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
