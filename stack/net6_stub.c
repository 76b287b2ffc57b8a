/* Weak stand-ins for the IPv6 calls between the network layer and the
 * transports, so that each side builds without the other. A strong
 * definition replaces each one. */
#include "net6.h"
