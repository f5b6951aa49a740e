module loops

go 1.15
