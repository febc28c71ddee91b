package insights

import "google.golang.org/grpc/codes"

func codeOf(c int32) codes.Code { return codes.Code(uint32(c)) }
