// libmosquitto (Debian: libmosquitto-dev), the MQTT 3.1.1/5 client library facecam publishes
// through. Its API has no variadic functions or function-like macros, so the header is used
// as it is.
#include <mosquitto.h>
