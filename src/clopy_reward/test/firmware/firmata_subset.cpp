// A stand-in for StandardFirmata in the simavr test (test_firmata_simavr.py) where
// the Firmata library's sources are not installed: Debian ships the Arduino core and
// the AVR toolchain but not the Firmata library. It answers the part of the Firmata
// protocol the reward node uses, as StandardFirmata does on an Uno: the version and
// firmware reports (also sent once at start), the capability response (pins 2-19
// digital outputs, 0-1 the serial lines), SET_PIN_MODE (input/output) and the
// digital port message (only output pins change; 0 and 1 are never touched). Every
// digital pin starts as an output driven low, as in StandardFirmata.
#include <Arduino.h>

#ifndef FIRMATA_BAUD
#define FIRMATA_BAUD 115200
#endif

static const uint8_t TOTAL_PINS = 20;
static const char NAME[] = "clopy_firmata_subset";
static uint8_t modes[TOTAL_PINS];
static uint8_t msg[64];
static uint8_t len = 0;

static void reportVersion() {
  Serial.write(0xF9); Serial.write(2); Serial.write(5);
}

static void reportFirmware() {
  Serial.write(0xF0); Serial.write(0x79); Serial.write(2); Serial.write(5);
  for (const char *c = NAME; *c; c++) { Serial.write((uint8_t)*c & 0x7F); Serial.write((uint8_t)0); }
  Serial.write(0xF7);
}

static void reportCapabilities() {
  Serial.write(0xF0); Serial.write(0x6C);
  for (uint8_t pin = 0; pin < TOTAL_PINS; pin++) {
    if (pin >= 2) { Serial.write(0); Serial.write(1); Serial.write(1); Serial.write(1); }
    Serial.write(0x7F);
  }
  Serial.write(0xF7);
}

static void setMode(uint8_t pin, uint8_t mode) {
  if (pin < 2 || pin >= TOTAL_PINS) return;
  if (mode == 1) { pinMode(pin, OUTPUT); modes[pin] = 1; }
  else if (mode == 0) { pinMode(pin, INPUT); modes[pin] = 0; }
}

static void writePort(uint8_t port, uint8_t value) {
  for (uint8_t bit = 0; bit < 8; bit++) {
    uint8_t pin = port * 8 + bit;
    if (pin < 2 || pin >= TOTAL_PINS || modes[pin] != 1) continue;
    digitalWrite(pin, (value >> bit) & 1 ? HIGH : LOW);
  }
}

static void handle() {
  uint8_t cmd = msg[0];
  if (cmd == 0xF9) reportVersion();
  else if (cmd == 0xF0 && len >= 3 && msg[1] == 0x79) reportFirmware();
  else if (cmd == 0xF0 && len >= 3 && msg[1] == 0x6B) reportCapabilities();
  else if (cmd == 0xF4) setMode(msg[1], msg[2]);
  else if ((cmd & 0xF0) == 0x90) writePort(cmd & 0x0F, msg[1] | (msg[2] << 7));
  len = 0;
}

void setup() {
  for (uint8_t pin = 2; pin < TOTAL_PINS; pin++) setMode(pin, 1);
  for (uint8_t port = 0; port < 3; port++) writePort(port, 0);
  Serial.begin(FIRMATA_BAUD);
  reportVersion();
  reportFirmware();
}

void loop() {
  while (Serial.available()) {
    uint8_t b = Serial.read();
    if (b & 0x80 && b != 0xF7) len = 0;   // a command byte starts a message
    if (len < sizeof(msg)) msg[len++] = b;
    uint8_t cmd = msg[0];
    if (cmd == 0xF9) handle();
    else if (cmd == 0xF0) { if (b == 0xF7) handle(); }
    else if ((cmd == 0xF4 || (cmd & 0xF0) == 0x90) && len == 3) handle();
    else if (!(cmd & 0x80)) len = 0;       // data with no command: dropped
  }
}
