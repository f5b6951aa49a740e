module scoped

go 1.15
