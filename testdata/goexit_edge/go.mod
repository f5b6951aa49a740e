module goexit_edge

go 1.15
