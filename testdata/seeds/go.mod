module seeds

go 1.19
