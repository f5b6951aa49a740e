module basic

go 1.15
