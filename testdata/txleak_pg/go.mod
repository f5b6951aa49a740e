module txleak_pg

go 1.15

// From Debian: golang-github-lib-pq-dev (scripts/setup-go-libs.sh). A directory replacement
// needs neither the network nor a go.sum line.
require github.com/lib/pq v1.10.7

replace github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
