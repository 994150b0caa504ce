// The header holds everything (inline functions); SwiftPM needs one source file per C target.
#include "CVectorMath.h"
