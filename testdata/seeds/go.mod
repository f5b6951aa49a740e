module seeds

go 1.15
