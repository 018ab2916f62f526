# Boards this project builds, with what flashing needs to know about each.
# Every board is an upstream MicroPython esp32 board (ports/esp32/boards/);
# what it gets beyond upstream is the frozen manifest (boards/manifest.py, or
# boards/<BOARD>/manifest.py if that exists) and the coap module.
#
# To add a board: add its name to FIRMWARE_BOARDS and set its chip (esptool's
# --chip, ESP-IDF's IDF_TARGET). The offset its combined firmware.bin is
# written at is not listed here: `make flash` reads it from the build's
# sdkconfig (CONFIG_BOOTLOADER_OFFSET_IN_FLASH; mk/firmware.mk says why).
# README.md, "Adding a board", has the whole procedure.

FIRMWARE_BOARDS := ESP32_GENERIC ESP32_GENERIC_S2 ESP32_GENERIC_S3 ESP32_GENERIC_C3 ESP32_GENERIC_C6

BOARD_CHIP_ESP32_GENERIC    := esp32
BOARD_CHIP_ESP32_GENERIC_S2 := esp32s2
BOARD_CHIP_ESP32_GENERIC_S3 := esp32s3
BOARD_CHIP_ESP32_GENERIC_C3 := esp32c3
BOARD_CHIP_ESP32_GENERIC_C6 := esp32c6

