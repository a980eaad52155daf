#!/usr/bin/env bash
# Build Firmata firmware for an Arduino Uno (ATmega328P, 16 MHz) with Debian's AVR
# toolchain and Arduino core (gcc-avr, avr-libc, arduino-core-avr), no IDE:
#
#   scripts/build_firmata.sh                 # StandardFirmata -> build/firmata/StandardFirmata.{elf,hex}
#   scripts/build_firmata.sh --sketch F.cpp  # another sketch (the tests' Firmata stand-in)
#
# StandardFirmata needs two Arduino libraries that no Debian package ships: Firmata
# and Servo (get them with the Arduino IDE's Library Manager or
# `arduino-cli lib install Firmata Servo`); point ARDUINO_LIBRARIES at the folder that
# holds both (default ~/Arduino/libraries). The serial rate is set at build time
# (--baud, default 115200: reward.baud of config/clmf.yaml; the IDE's StandardFirmata
# uses 57600). Flash the .hex with avrdude (docs/hardware-arduino.md).
#
# Options: --sketch FILE (.ino or .cpp)  --out DIR (default build/firmata)  --baud N
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sketch="" out="$repo/build/firmata" baud=115200
while [ $# -gt 0 ]; do
    case "$1" in
        --sketch) sketch="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --baud) baud="$2"; shift 2 ;;
        *) echo "build_firmata: unknown option $1 (allowed: --sketch FILE, --out DIR, --baud N)" >&2; exit 2 ;;
    esac
done
arduino=/usr/share/arduino/hardware/arduino/avr
core="$arduino/cores/arduino" variant="$arduino/variants/standard"
for tool in avr-gcc avr-g++ avr-gcc-ar avr-objcopy; do
    command -v "$tool" >/dev/null || { echo "build_firmata: $tool missing: apt-get install gcc-avr avr-libc" >&2; exit 1; }
done
[ -f "$core/Arduino.h" ] || { echo "build_firmata: no Arduino core at $core: apt-get install arduino-core-avr" >&2; exit 1; }

libs=()
if [ -z "$sketch" ]; then
    libroot="${ARDUINO_LIBRARIES:-$HOME/Arduino/libraries}"
    for lib in Firmata Servo; do
        [ -d "$libroot/$lib" ] || { echo "build_firmata: no $lib library in $libroot (Debian ships none): install" \
            "Firmata and Servo with the Arduino IDE's Library Manager or arduino-cli, or set ARDUINO_LIBRARIES" >&2; exit 1; }
    done
    sketch="$libroot/Firmata/examples/StandardFirmata/StandardFirmata.ino"
    libs=("$libroot/Firmata" "$libroot/Servo/src" "$arduino/libraries/Wire/src")
    [ -d "$libroot/Servo/src" ] || libs[1]="$libroot/Servo"
fi
[ -f "$sketch" ] || { echo "build_firmata: no sketch $sketch" >&2; exit 1; }
name="$(basename "${sketch%.*}")"

mkdir -p "$out/obj/core" "$out/obj/libs"
flags=(-mmcu=atmega328p -DF_CPU=16000000L -DARDUINO=10819 -DARDUINO_AVR_UNO -DARDUINO_ARCH_AVR -Os -g
       -ffunction-sections -fdata-sections -flto -I"$core" -I"$variant")
for lib in "${libs[@]}"; do flags+=(-I"$lib"); done
# (Debian's gcc-avr 5.4 defines DECIMAL_DIG for C only; the core's WString.cpp needs it in C++)
cxx=(avr-g++ "${flags[@]}" -std=gnu++11 -fpermissive -fno-exceptions -fno-threadsafe-statics
     -DDECIMAL_DIG=__DECIMAL_DIG__)
cc=(avr-gcc "${flags[@]}" -std=gnu11)

compile() {   # source object
    case "$1" in
        *.c) "${cc[@]}" -c "$1" -o "$2" ;;
        *.S) "${cc[@]}" -x assembler-with-cpp -c "$1" -o "$2" ;;
        *) "${cxx[@]}" -x c++ -c "$1" -o "$2" ;;
    esac
}

# the Arduino core, once per output folder
if [ ! -f "$out/core.a" ]; then
    for src in "$core"/*.c "$core"/*.cpp "$core"/*.S; do
        compile "$src" "$out/obj/core/$(basename "$src").o"
    done
    avr-gcc-ar rcs "$out/core.a" "$out"/obj/core/*.o
fi
objs=()
for lib in "${libs[@]}"; do
    while IFS= read -r src; do
        obj="$out/obj/libs/$(echo "${src#"$lib"/}" | tr / _).o"
        compile "$src" "$obj"
        objs+=("$obj")
    done < <(find "$lib" -maxdepth 3 \( -name '*.cpp' -o -name '*.c' \) -not -path '*/examples/*' \
             -not -path '*/extras/*' -not -path '*/test/*' | grep -v '/\(sam\|samd\|stm32f4\|nrf52\|mbed\|megaavr\|renesas\|esp32\)/' || true)
done
# the sketch: the rate of Firmata.begin() as given
sed "s/Firmata\.begin([0-9]*)/Firmata.begin($baud)/" "$sketch" > "$out/$name.cpp"
"${cxx[@]}" -DFIRMATA_BAUD="$baud" -include Arduino.h -c "$out/$name.cpp" -o "$out/obj/$name.o"
avr-gcc -mmcu=atmega328p -Os -flto -fuse-linker-plugin -Wl,--gc-sections -o "$out/$name.elf" \
    "$out/obj/$name.o" "${objs[@]}" "$out/core.a" -lm
avr-objcopy -O ihex -R .eeprom "$out/$name.elf" "$out/$name.hex"
echo "$out/$name.elf"
