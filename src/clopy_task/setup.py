from setuptools import find_packages, setup

package_name = 'clopy_task'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['tasks/*.py']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    # Pure Python: installs with plain pip into a venv without ROS.
    install_requires=['setuptools', 'numpy'],
    extras_require={'test': ['pytest']},
    zip_safe=False,
    maintainer='CLoPy-ROS developers',
    maintainer_email='clopy-ros@example.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='MIT',
)
