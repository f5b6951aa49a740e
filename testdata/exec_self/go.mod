module exec_self

go 1.15
