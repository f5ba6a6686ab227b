#include "clock.h"

struct clock_held clock_held;
