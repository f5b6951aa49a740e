module txleak_fake

go 1.19
