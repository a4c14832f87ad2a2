#include <libnet.h>
